"""`promptctl.sinks` is where apps have always imported it from; it lives in
`promptctl.runtime.sinks`. This name is the same module object, not a copy."""

import sys

from .runtime import sinks as _module

sys.modules[__name__] = _module
