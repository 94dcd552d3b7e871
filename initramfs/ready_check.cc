#include "ready_check.h"

#include <cstdint>
#include <cstdlib>

namespace romimg::appliance {

namespace {

// "1".."65535", digits only.
bool port_of(const std::string& s, int& port) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    long p = std::strtol(s.c_str(), nullptr, 10);
    if (p < 1 || p > 65535) return false;
    port = (int)p;
    return true;
}

bool printable_no_space(const std::string& s) {
    for (unsigned char c : s)
        if (c <= ' ' || c >= 0x7f) return false;
    return true;
}

bool parse_url(const std::string& spec, ReadyCheck& r, std::string& error) {
    const bool tls = spec.rfind("https://", 0) == 0;
    r.kind = tls ? ReadyCheck::https : ReadyCheck::http;
    const std::string rest = spec.substr(tls ? 8 : 7);
    const size_t slash = rest.find('/');
    const std::string hostport = rest.substr(0, slash);
    r.path = slash == std::string::npos ? "/" : rest.substr(slash);
    std::string host = hostport, port;
    if (!hostport.empty() && hostport[0] == '[') {  // [::1]:8080
        const size_t close = hostport.find(']');
        if (close == std::string::npos) return error = "an IPv6 host needs its closing ']'", false;
        host = hostport.substr(1, close - 1);
        if (close + 1 < hostport.size()) {
            if (hostport[close + 1] != ':') return error = "expected ':PORT' after the IPv6 host", false;
            port = hostport.substr(close + 2);
            if (port.empty()) return error = "the port after ':' is missing", false;
        }
    } else if (const size_t c = hostport.rfind(':'); c != std::string::npos) {
        host = hostport.substr(0, c);
        port = hostport.substr(c + 1);
        if (port.empty()) return error = "the port after ':' is missing", false;
    }
    if (host.empty()) return error = "the URL has no host", false;
    if (host.find_first_of("@?#") != std::string::npos) return error = "the URL's host is not a plain host name", false;
    r.host = host;
    if (port.empty()) r.port = tls ? 443 : 80;
    else if (!port_of(port, r.port)) return error = "the port is not 1-65535", false;
    if (r.path.find('#') != std::string::npos) return error = "the URL has a fragment ('#')", false;
    return true;
}

}  // namespace

bool parse_ready_check(const std::string& spec, ReadyCheck& out, std::string& error) {
    ReadyCheck r;
    error.clear();
    if (spec.empty()) {
        out = r;
        return true;
    }
    if (!printable_no_space(spec)) {
        error = "it contains a space or a control character";
        return false;
    }
    if (spec.rfind("tcp:", 0) == 0 || spec.rfind("postgres:", 0) == 0) {
        const bool pg = spec[0] == 'p';
        r.kind = pg ? ReadyCheck::postgres : ReadyCheck::tcp;
        std::string rest = spec.substr(pg ? 9 : 4);
        if (const size_t c = rest.rfind(':'); c != std::string::npos) {
            r.host = rest.substr(0, c);
            rest = rest.substr(c + 1);
            if (r.host.empty()) return error = "the host before ':PORT' is empty", false;
        }
        if (!port_of(rest, r.port))
            return error = pg ? "expected postgres:PORT with a port of 1-65535" : "expected tcp:PORT with a port of 1-65535", false;
    } else if (spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0) {
        if (!parse_url(spec, r, error)) return false;
    } else {
        error = "expected tcp:PORT, postgres:PORT or an http:// URL";
        return false;
    }
    out = r;
    return true;
}

int http_status_of(const std::string& line) {
    // "HTTP/1.1 200 OK", "HTTP/1.0 503 Service Unavailable", "HTTP/2 200"
    if (line.rfind("HTTP/", 0) != 0) return 0;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp + 4 > line.size()) return 0;
    const std::string code = line.substr(sp + 1, 3);
    if (code.find_first_not_of("0123456789") != std::string::npos) return 0;
    if (sp + 4 < line.size() && line[sp + 4] != ' ' && line[sp + 4] != '\r') return 0;
    const int st = std::atoi(code.c_str());
    return st >= 100 && st <= 599 ? st : 0;
}

std::string ready_request(const ReadyCheck& r) {
    if (r.kind == ReadyCheck::postgres) {
        // Int32 length, Int32 protocol 3.0, then name/value pairs, each NUL-terminated, and a NUL.
        static const char kParams[] = "user\0romimg-ready\0database\0romimg-ready\0";  // + its own NUL
        const std::string params(kParams, sizeof kParams);
        const uint32_t len = 8 + (uint32_t)params.size();
        std::string m;
        for (uint32_t v : {len, 196608u})
            for (int shift = 24; shift >= 0; shift -= 8) m += (char)((v >> shift) & 0xff);
        return m + params;
    }
    return "GET " + r.path + " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(r.port) +
           "\r\nUser-Agent: romimg-init\r\nConnection: close\r\n\r\n";
}

}  // namespace romimg::appliance

namespace romimg::appliance {

PgAnswer postgres_answer(const std::string& reply, bool closed) {
    if (reply.empty()) return closed ? PgAnswer::not_ready : PgAnswer::more;
    const char type = reply[0];
    if (type == 'R' || type == 'v') return PgAnswer::ready;  // authentication / protocol negotiation
    if (type != 'E') return PgAnswer::not_ready;              // not PostgreSQL speaking
    if (reply.size() < 5) return closed ? PgAnswer::not_ready : PgAnswer::more;
    const uint32_t len = ((uint32_t)(unsigned char)reply[1] << 24) | ((uint32_t)(unsigned char)reply[2] << 16) |
                         ((uint32_t)(unsigned char)reply[3] << 8) | (uint32_t)(unsigned char)reply[4];
    if (len < 4 || len > 4096) return PgAnswer::not_ready;
    if (reply.size() < 1 + (size_t)len) return closed ? PgAnswer::not_ready : PgAnswer::more;
    // Fields: a type byte and a NUL-terminated value each; 'C' is the SQLSTATE.
    for (size_t i = 5; i < 1 + (size_t)len && reply[i] != '\0';) {
        const size_t end = reply.find('\0', i + 1);
        if (end == std::string::npos || end > (size_t)len) break;
        if (reply[i] == 'C') return reply.compare(i + 1, end - i - 1, "57P03") == 0 ? PgAnswer::not_ready : PgAnswer::ready;
        i = end + 1;
    }
    return PgAnswer::ready;  // an error without a code is still a server taking sessions
}

}  // namespace romimg::appliance
