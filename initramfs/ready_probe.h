// PID 1's readiness check of one service, in steps that never block: PID 1 calls step() from
// its event loop (every 200 ms at most) and goes on draining logs and watching the other
// services while a slow service (Tomcat deploying its webapps) has not answered yet.
#pragma once

#include <string>

#include "ready_check.h"

namespace romimg::appliance {

class ReadyProbe {
public:
    // Forgets any attempt under way (its socket is closed): the service was (re)started or killed.
    void reset();
    // tcp: a connection to the loopback port is accepted. http: the request was answered on the
    // loopback port with a status below 500 (status_means_ready). postgres: a session's start
    // was answered, and not with "starting up" (postgres_answer). An attempt that gets no answer
    // within kAttemptSeconds is dropped and a new one made; a failed one is retried after
    // kRetrySeconds.
    bool step(const ReadyCheck& c, double now);
    // The last HTTP status the service answered with (0: none yet), to say why it is not ready.
    int last_status() const { return last_status_; }

    static constexpr double kAttemptSeconds = 10, kRetrySeconds = 0.5;

private:
    bool open_connection(const ReadyCheck& c, double now);
    void give_up(double now);

    int fd_ = -1;
    bool sent_ = false;
    double started_ = 0, next_ = 0;
    std::string reply_;
    int last_status_ = 0;
};

}  // namespace romimg::appliance
