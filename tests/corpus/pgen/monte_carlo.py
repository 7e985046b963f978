"""pgen: random samples of X and Y, reproducible from a seed.

pargs (each defaults to the spec's env variable of the same name, upper case):
  seed (SEED), trials (TRIALS), xmin/xmax (XMIN/XMAX).  Y is uniform in [0, 1).
"""

import random

from maestrowf.datastructures.core import ParameterGenerator


def _setting(env, kwargs, key):
    if key in kwargs:
        return kwargs[key]
    found = env.find(key.upper())
    if found is None:
        raise ValueError(f"monte_carlo.py: give --pargs {key}:VALUE or env variable {key.upper()}")
    return found.value


def get_custom_generator(env, **kwargs):
    # int(): pargs are strings, env values may be numbers; the seed must be the same either way.
    rng = random.Random(int(_setting(env, kwargs, "seed")))
    trials = int(_setting(env, kwargs, "trials"))
    xmin, xmax = int(_setting(env, kwargs, "xmin")), int(_setting(env, kwargs, "xmax"))
    p_gen = ParameterGenerator()
    p_gen.add_parameter("TRIAL", list(range(1, trials + 1)), "TRIAL.%%")
    p_gen.add_parameter("X", [rng.randint(xmin, xmax) for _ in range(trials)], "X.%%")
    p_gen.add_parameter("Y", [round(rng.random(), 4) for _ in range(trials)], "Y.%%")
    return p_gen
