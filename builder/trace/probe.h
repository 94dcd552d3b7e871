// Ready checks and HTTP(S) probes (libcurl). Parsing is pure; checking talks to the network of
// whatever namespace the calling thread is in.
#pragma once

#include <string>
#include <vector>

#include "trace/trace_result.h"

namespace romimg::trace {

struct ReadyCheck {
    enum Kind { none, tcp, http, postgres } kind = none;
    std::string host = "127.0.0.1";
    int port = 0;
    std::string url;  // http kind
};

// "tcp:PORT", "tcp:HOST:PORT", "postgres:PORT" or an http:// / https:// URL. Throws UsageError.
ReadyCheck parse_ready(const std::string& spec);

struct Probe {
    std::string method;  // GET, HEAD, POST, ...; "run" for a command probe
    std::string target;  // "/path" (relative to the service's base URL) or a full URL
    int expect = 200;
    // A command probe: a client of the service's own protocol (an SQL query, an SSH login) run
    // on the build host, in the service's network. {host} and {port} in a word become the
    // service's address (the ready check's; on a booted image, where the port is forwarded).
    // It passes when the command exits 0. It runs as nobody: a template or an image is someone
    // else's input, and its probes never get romimg's root.
    std::vector<std::string> argv;
};

// "GET /path 200" (method and status optional: "/path" = "GET /path 200"), or
// "run PROGRAM ARG..." (words split at spaces; '...' or "..." keeps spaces in one word).
// Throws UsageError.
Probe parse_probe(const std::string& spec);

// "HTTP 200", "exit 0": what the probe expects, for reports.
std::string expectation(const Probe& p);

// Base URL ("http://127.0.0.1:8080") that relative probes use, from the ready check; "" if the
// ready check does not name a port.
std::string base_url(const ReadyCheck& ready);

// Full URL of a probe; throws UsageError for a relative probe without a base.
std::string probe_url(const Probe& p, const std::string& base);

// One attempt: true if the service accepts a connection (tcp), answers an HTTP status below
// 500 (http: serving, not only listening; appliance::status_means_ready), or a PostgreSQL
// server takes sessions (postgres, within 5 s: appliance::postgres_answer).
bool check_ready_once(const ReadyCheck& r);

// Performs the request (a command probe: runs it, with a timeout; its last output lines are the
// detail of a failure) (TLS certificates are not verified: probes check the service, and a
// staging host's certificate is often self-signed). Never throws for a network error: the
// result says what came back.
ProbeResult run_probe(const Probe& p, const std::string& base, int timeout_s = 20);

}  // namespace romimg::trace
