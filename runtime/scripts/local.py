"""local: `#!<shell>`, a blank line, the command (Maestro's localscriptadapter, byte for byte)."""

from .common import ScriptFormat

FORMAT = ScriptFormat(key="local", extension="sh")
