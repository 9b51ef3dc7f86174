"""`promptctl.calllog` is where apps have always imported it from; it lives in
`promptctl.runtime.calllog`. This name is the same module object, not a copy."""

import sys

from .runtime import calllog as _module

sys.modules[__name__] = _module
