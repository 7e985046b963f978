"""pgen: the cross product of two parameters (Maestro zips global.parameters; this crosses them).

Usage: --pgen cross_product.py   (fills $(GREETING) and $(NAME))
"""

import itertools

from maestrowf.datastructures.core import ParameterGenerator

GREETINGS = ["Hello", "Ciao", "Hey"]
NAMES = ["Pam", "Jim"]


def get_custom_generator(env, **kwargs):
    p_gen = ParameterGenerator()
    rows = list(itertools.product(GREETINGS, NAMES))
    p_gen.add_parameter("GREETING", [g for g, _ in rows], "GREETING.%%")
    p_gen.add_parameter("NAME", [n for _, n in rows], "NAME.%%")
    return p_gen
