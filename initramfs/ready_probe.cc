#include "ready_probe.h"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace romimg::appliance {

namespace {

// The appliance always checks its own loopback (the template check allows only loopback hosts).
socklen_t loopback_address(const ReadyCheck& c, sockaddr_storage& ss) {
    ss = {};
    if (c.host == "::1") {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)c.port);
        a->sin6_addr = in6addr_loopback;
        return sizeof *a;
    }
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)c.port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof *a;
}

constexpr size_t kStatusLineMax = 256;
constexpr size_t kReplyMax = 4096 + 1;  // a PostgreSQL error message (postgres_answer's bound)

}  // namespace

void ReadyProbe::reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    sent_ = false;
    reply_.clear();
    next_ = 0;
}

void ReadyProbe::give_up(double now) {
    reset();
    next_ = now + kRetrySeconds;
}

bool ReadyProbe::open_connection(const ReadyCheck& c, double now) {
    sockaddr_storage ss;
    const socklen_t len = loopback_address(c, ss);
    const int type = SOCK_STREAM | SOCK_CLOEXEC | (c.kind == ReadyCheck::tcp ? 0 : SOCK_NONBLOCK);
    fd_ = socket(ss.ss_family, type, 0);
    if (fd_ < 0) return false;
    started_ = now;
    // On loopback a blocking connect returns at once: accepted into the backlog or refused.
    if (connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0) return true;
    return c.kind != ReadyCheck::tcp && errno == EINPROGRESS;
}

bool ReadyProbe::step(const ReadyCheck& c, double now) {
    if (c.kind == ReadyCheck::none) return false;
    if (fd_ >= 0 && now - started_ > kAttemptSeconds) give_up(now);
    if (fd_ < 0) {
        if (now < next_) return false;
        const bool ok = open_connection(c, now);
        if (c.kind == ReadyCheck::tcp || !ok) {
            give_up(now);
            return ok && c.kind == ReadyCheck::tcp;
        }
    }
    if (!sent_) {
        struct pollfd p {fd_, POLLOUT, 0};
        if (poll(&p, 1, 0) <= 0) return false;  // still connecting
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err != 0) {
            give_up(now);
            return false;
        }
        const std::string req = ready_request(c);
        if (send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != (ssize_t)req.size()) {
            give_up(now);
            return false;
        }
        sent_ = true;
    }
    const bool pg = c.kind == ReadyCheck::postgres;
    auto complete = [&] {
        return pg ? postgres_answer(reply_, false) != PgAnswer::more
                  : reply_.find('\n') != std::string::npos || reply_.size() >= kStatusLineMax;
    };
    char buf[kReplyMax];
    bool closed = false;
    while (!complete() && reply_.size() < kReplyMax) {
        const ssize_t n = recv(fd_, buf, kReplyMax - reply_.size(), 0);
        if (n > 0) {
            reply_.append(buf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;  // not yet
        closed = true;  // EOF or an error: whatever came is all there is
        break;
    }
    if (reply_.empty() && !closed) return false;
    if (pg) {
        const bool ready = postgres_answer(reply_, true) == PgAnswer::ready;
        give_up(now);
        return ready;
    }
    const int status = http_status_of(reply_.substr(0, reply_.find('\n')));
    if (status) last_status_ = status;
    give_up(now);
    return status_means_ready(status);
}

}  // namespace romimg::appliance
