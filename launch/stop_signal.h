// SIGTERM and SIGUSR1 (Slurm's preemption warning, `--signal=USR1@90`) ask the run to stop: the
// trainer finishes the current step, all ranks agree on it, write a checkpoint and exit cleanly.
#pragma once

namespace arena {

void install_stop_handlers();
bool stop_requested();
int stop_signal();  // the signal that asked, 0 if none

}  // namespace arena
