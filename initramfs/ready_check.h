// A service's readiness check, as a template writes it and as PID 1 runs it on the appliance:
// "tcp:PORT" (something accepts connections), "http://HOST:PORT/PATH" (the service answers an
// HTTP request with a status below 500: serving, not just listening) or "postgres:PORT" (a
// PostgreSQL server answers a session's start with anything but "the database system is
// starting up": it binds its port before its recovery is over). Pure and exception-free,
// shared by the builder (templates, image.json, verify) and romimg-init, so both read one grammar.
#pragma once

#include <string>

namespace romimg::appliance {

struct ReadyCheck {
    enum Kind { none, tcp, http, https, postgres } kind = none;
    std::string host = "127.0.0.1";  // as written; the appliance always checks its loopback
    int port = 0;
    std::string path = "/";          // http(s): the request target
};

// "" is none. "tcp:PORT", "tcp:HOST:PORT", "postgres:PORT", "postgres:HOST:PORT",
// "http[s]://HOST[:PORT][/PATH]". false with `error` saying what is wrong.
bool parse_ready_check(const std::string& spec, ReadyCheck& out, std::string& error);

// An HTTP response's first line ("HTTP/1.1 200 OK"): its status, 0 if the line is not one.
int http_status_of(const std::string& first_line);

// Whether a status means the service is serving (ready): 100-499. A 5xx is a service still
// starting (Tomcat's 503) or broken.
inline bool status_means_ready(int status) { return status >= 100 && status < 500; }

// The request PID 1 sends: for an http check (HTTP/1.0, Connection: close); for a postgres
// check a StartupMessage (protocol 3.0, user and database romimg-ready).
std::string ready_request(const ReadyCheck& r);

// A PostgreSQL server's answer to ready_request() so far: more bytes needed, not ready (its
// error says it is starting up, SQLSTATE 57P03, or it answered nothing usable before closing),
// or ready (an authentication request, or any other error: it is taking sessions).
enum class PgAnswer { more, not_ready, ready };
PgAnswer postgres_answer(const std::string& reply, bool closed);

}  // namespace romimg::appliance
