"""medtl-bench: a batch benchmark suite for transfer learning in medical image classification."""

__version__ = "0.1.0"
