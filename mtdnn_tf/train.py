"""Command line: train an MT-DNN model.

    python -m mtdnn_tf.train --flagfile=configs/demo.flags
    python -m mtdnn_tf.train --flagfile=configs/glue_local.flags

User errors (bad flags, missing or malformed files) end with one line on
stderr and exit status 2; a non-finite loss ends with exit status 3.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from absl import flags  # noqa: E402

from mtdnn_tf.cli import (  # noqa: E402
    absl_main,
    console_script,
    define_setting_flags,
    setting_flag_names,
    setting_values,
)
from mtdnn_tf.errors import NonFiniteLossError, SettingError, as_flag_error  # noqa: E402
from mtdnn_tf.experiment import RunSettings  # noqa: E402
from mtdnn_tf.run_command import RUN_FLAGS, SMART_FLAGS, SMART_PREFIX, TRAIN_FLAGS  # noqa: E402
from mtdnn_tf.settings.smart_config import SmartConfig  # noqa: E402
from mtdnn_tf.training.train_config import TrainConfig  # noqa: E402

FLAGS = flags.FLAGS

# The settings fields this command exposes (run_command keeps the lists); each flag's type, default and help
# come from its dataclass field.
define_setting_flags(RunSettings, RUN_FLAGS, __name__)
define_setting_flags(TrainConfig, TRAIN_FLAGS, __name__)
define_setting_flags(SmartConfig, SMART_FLAGS, __name__, prefix=SMART_PREFIX)


def settings_from_flags():
    """The RunSettings of the parsed flags; a setting out of range names its flag."""
    try:
        return RunSettings(**setting_values(RunSettings, RUN_FLAGS, FLAGS), train=TrainConfig(
            **setting_values(TrainConfig, TRAIN_FLAGS, FLAGS),
            smart=SmartConfig(**setting_values(SmartConfig, SMART_FLAGS, FLAGS, prefix=SMART_PREFIX))))
    except SettingError as e:  # the library names its setting; say which flag it came from
        raise as_flag_error(e, {**setting_flag_names(RunSettings, RUN_FLAGS),
                                **setting_flag_names(SmartConfig, SMART_FLAGS, prefix=SMART_PREFIX)}) from None


def _train():
    from mtdnn_tf.experiment import run  # noqa: PLC0415

    run(settings_from_flags())


main = absl_main(_train, extra={NonFiniteLossError: 3})
console_main = console_script(main, __name__)  # the `mtdnn-train` command

if __name__ == "__main__":
    console_main()
