// Ctrl-C, SIGTERM and SIGHUP become a flag that long waits poll (throw Interrupted), so RAII
// guards get to stop children, unmount and remove temporary files on the way out.
#pragma once

namespace romimg::signals {

void install_interrupt_handlers();
bool interrupted();
void throw_if_interrupted();  // throws Interrupted

}  // namespace romimg::signals
