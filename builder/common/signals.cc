#include "common/signals.h"

#include <csignal>

#include "common/error.h"

namespace romimg::signals {

static volatile sig_atomic_t g_interrupted = 0;

static void on_signal(int) { g_interrupted = 1; }

void install_interrupt_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);
}

bool interrupted() { return g_interrupted != 0; }

void throw_if_interrupted() {
    if (g_interrupted) throw Interrupted();
}

}  // namespace romimg::signals
