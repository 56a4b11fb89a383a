"""Privacy of synthetic rows: the training-row reference, the privacy row step, and (next) DP accounting.

- :mod:`~synthloop.privacy.reference`: :class:`PrivacyReference`, built lazily from the training rows,
  kept out of model folders unless asked;
- :mod:`~synthloop.privacy.filter`: :class:`PrivacyStep`, the last step of the sampling pipeline
  (``privacy="parity" | "no-copies" | "off"``), and :class:`SampleInfo`.
"""

from synthloop.privacy.filter import DEFAULT_PRIVACY, PRIVACY_MODES, PrivacyMode, PrivacyStep, SampleInfo, check_mode
from synthloop.privacy.reference import PARITY_LEVELS, PrivacyReference, load_reference

__all__ = ["DEFAULT_PRIVACY", "PARITY_LEVELS", "PRIVACY_MODES", "PrivacyMode", "PrivacyReference", "PrivacyStep",
           "SampleInfo", "check_mode", "load_reference"]
