"""Fault injection for tests/test_faults.py, loaded by every interpreter whose PYTHONPATH starts with this folder:
the driver, the fork server it starts (and so every forked cell) and subprocess cells.

`MEDTL_TEST_FAULT`, read when the hook runs (a forked cell gets the driver's environment at fork time):
  hook      a strategy's epoch hook raises at epoch 2 (a bug in a strategy);
  allocate  the epoch hook asks for 64 GiB (more than any `--memory` limit the suite test sets);
  slow      every epoch starts 2 s late (a cell still trains when a test acts on it, on any machine).
Nothing here is imported by the suite itself.
"""

import os

if os.environ.get("MEDTL_TEST_FAULT"):
    from suite.strategies.base import Strategy

    _original = Strategy.on_epoch_start

    def on_epoch_start(self, model, epoch, ctx):
        fault = os.environ.get("MEDTL_TEST_FAULT")
        if fault == "hook" and epoch == 2:
            raise RuntimeError("injected fault: the strategy's epoch hook failed")
        if fault == "slow":
            import time

            time.sleep(2.0)
        if fault == "allocate":
            import torch

            torch.empty(64 * 2**30, dtype=torch.uint8)
        return _original(self, model, epoch, ctx)

    Strategy.on_epoch_start = on_epoch_start
