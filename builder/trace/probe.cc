#include "trace/probe.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "common/command.h"
#include "common/error.h"
#include "common/strings.h"
#include "common/sys.h"
#include "common/fd.h"
#include "ready_check.h"
#include "ready_probe.h"

namespace romimg::trace {

ReadyCheck parse_ready(const std::string& spec) {
    appliance::ReadyCheck c;
    std::string why;
    if (spec.empty() || !appliance::parse_ready_check(spec, c, why))
        throw UsageError(fmt::format("bad ready check '{}': {}", spec,
                                     spec.empty() ? "it is empty (write tcp:PORT, postgres:PORT or an http(s) URL)"
                                     : why.find("expected") == std::string::npos ? why + " (write tcp:PORT, postgres:PORT or an http(s) URL)"
                                                                                 : why));
    ReadyCheck r;
    r.kind = c.kind == appliance::ReadyCheck::tcp        ? ReadyCheck::tcp
             : c.kind == appliance::ReadyCheck::postgres ? ReadyCheck::postgres
                                                         : ReadyCheck::http;
    r.host = c.host;
    r.port = c.port;
    if (r.kind == ReadyCheck::http) r.url = spec;
    return r;
}

namespace {

// A command probe's words: split at spaces, '...' and "..." keep spaces (no escapes).
std::vector<std::string> command_words(const std::string& spec, const std::string& text) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        if (i == text.size()) break;
        std::string w;
        while (i < text.size() && text[i] != ' ') {
            char q = text[i];
            if (q == '\'' || q == '"') {
                size_t end = text.find(q, i + 1);
                if (end == std::string::npos)
                    throw UsageError(fmt::format("bad probe '{}': the quote {} is not closed", spec, q));
                w += text.substr(i + 1, end - i - 1);
                i = end + 1;
            } else {
                w += text[i++];
            }
        }
        words.push_back(w);
    }
    if (words.empty())
        throw UsageError(fmt::format("bad probe '{}': 'run' needs a program, e.g. "
                                     "'run mariadb --host={{host}} --port={{port}} --execute=\"SELECT 1\"'", spec));
    return words;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

// Host and port of a base URL ("http://127.0.0.1:8080", "http://[::1]:80").
std::pair<std::string, std::string> host_port(const std::string& base) {
    size_t start = base.find("://");
    start = start == std::string::npos ? 0 : start + 3;
    size_t colon = base.rfind(':');
    if (colon == std::string::npos || colon < start) return {base.substr(start), ""};
    std::string host = base.substr(start, colon - start);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return {host, base.substr(colon + 1)};
}

// The last `n` non-empty lines of a command's output, on one line.
std::string last_lines(const std::string& out, size_t n) {
    const std::vector<std::string> lines = split(out, '\n', true);
    std::string r;
    for (size_t k = lines.size() > n ? lines.size() - n : 0; k < lines.size(); ++k)
        r += (r.empty() ? "" : " | ") + lines[k];
    return r;
}

// A command probe comes from a template or an image's image.json, someone else's perhaps: it
// runs as nobody (no supplementary groups, no_new_privs, HOME=/), never as romimg's root.
std::optional<std::pair<uid_t, gid_t>> probe_identity() {
    if (geteuid() != 0) return std::nullopt;  // already unprivileged
    const struct passwd* pw = getpwnam("nobody");
    return std::pair<uid_t, gid_t>{pw ? pw->pw_uid : 65534, pw ? pw->pw_gid : 65534};
}

ProbeResult run_command_probe(const Probe& p, const std::string& base, int timeout_s) {
    ProbeResult r;
    auto [host, port] = host_port(base);
    Command cmd;
    cmd.as = probe_identity();
    cmd.env = {{"HOME", "/"}};
    for (const auto& w : p.argv) cmd.argv.push_back(replace_all(replace_all(w, "{host}", host), "{port}", port));
    r.request = "run " + quote_argv(cmd.argv);
    if (cmd.argv[0].find('/') == std::string::npos && find_program(cmd.argv[0]).empty()) {
        r.detail = fmt::format("{} is not installed on this host (the probe's client; install its package)",
                               cmd.argv[0]);
        r.status = 127;
        return r;
    }
    Collected c;
    try {
        c = run_collect(cmd, timeout_s);
    } catch (const SysError& e) {
        r.detail = e.what();
        r.status = 127;
        return r;
    }
    r.status = c.status;
    r.ok = !c.timed_out && c.status == 0;
    if (!r.ok) {
        std::string tail = last_lines(c.output, 4);
        r.detail = c.timed_out ? fmt::format("no result within {} s", timeout_s)
                   : c.status < 0 ? fmt::format("killed by SIG{}", sys::signal_name(-c.status))
                                  : fmt::format("exit {}", c.status);
        if (!tail.empty()) r.detail += "; it said: " + tail;
    }
    return r;
}

}  // namespace

std::string expectation(const Probe& p) {
    return p.argv.empty() ? fmt::format("HTTP {}", p.expect) : "exit 0";
}

Probe parse_probe(const std::string& spec) {
    if (spec.rfind("run ", 0) == 0 || spec == "run") {
        Probe p;
        p.method = "run";
        p.expect = 0;
        p.argv = command_words(spec, spec.substr(3));
        return p;
    }
    std::vector<std::string> words;
    size_t i = 0;
    while (i < spec.size()) {
        while (i < spec.size() && spec[i] == ' ') ++i;
        size_t j = spec.find(' ', i);
        if (j == std::string::npos) j = spec.size();
        if (j > i) words.push_back(spec.substr(i, j - i));
        i = j;
    }
    Probe p;
    auto bad = [&] {
        return UsageError(fmt::format("bad probe '{}': expected 'METHOD /path STATUS', e.g. 'GET / 200'", spec));
    };
    if (words.empty() || words.size() > 3) throw bad();
    size_t k = 0;
    if (words[0][0] != '/' && words[0].find("://") == std::string::npos) {
        p.method = words[k++];
        for (char c : p.method)
            if (c < 'A' || c > 'Z') throw bad();
    } else {
        p.method = "GET";
    }
    if (k >= words.size()) throw bad();
    p.target = words[k++];
    if (p.target[0] != '/' && p.target.find("://") == std::string::npos) throw bad();
    if (k < words.size()) {
        char* end = nullptr;
        long st = strtol(words[k].c_str(), &end, 10);
        if (*end || st < 100 || st > 599) throw bad();
        p.expect = (int)st;
    }
    return p;
}

std::string base_url(const ReadyCheck& r) {
    if (r.kind == ReadyCheck::none) return "";
    bool tls = r.kind == ReadyCheck::http && r.url.rfind("https://", 0) == 0;
    std::string host = r.host.find(':') != std::string::npos ? "[" + r.host + "]" : r.host;
    return fmt::format("{}://{}:{}", tls ? "https" : "http", host, r.port);
}

std::string probe_url(const Probe& p, const std::string& base) {
    if (!p.argv.empty()) {
        if (base.empty())
            throw UsageError(fmt::format("probe 'run {}' has no host: give --ready tcp:PORT (or a URL) "
                                         "so romimg knows what {{host}} and {{port}} are", p.argv[0]));
        return base;
    }
    if (p.target.find("://") != std::string::npos) return p.target;
    if (base.empty())
        throw UsageError(fmt::format("probe '{} {}' has no host: give --ready tcp:PORT (or a URL) "
                                     "so romimg knows where the service listens", p.method, p.target));
    return base + p.target;
}

bool check_ready_once(const ReadyCheck& r) {
    if (r.kind == ReadyCheck::http) {
        ProbeResult res = run_probe({"GET", r.url, 0, {}}, "", 5);
        return appliance::status_means_ready(res.status);
    }
    if (r.kind == ReadyCheck::postgres) {
        // init's own check, stepped until it answers (it retries a refused connection).
        appliance::ReadyCheck c;
        c.kind = appliance::ReadyCheck::postgres;
        c.host = r.host;
        c.port = r.port;
        appliance::ReadyProbe probe;
        const auto start = std::chrono::steady_clock::now();
        for (;;) {
            const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (probe.step(c, now)) return true;
            if (now > 5) return false;
            usleep(20000);
        }
    }
    struct addrinfo hints {}, *ai = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(r.host.c_str(), std::to_string(r.port).c_str(), &hints, &ai) != 0) return false;
    bool ok = false;
    for (auto* a = ai; a && !ok; a = a->ai_next) {
        Fd s(socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0));
        if (s && connect(s.get(), a->ai_addr, a->ai_addrlen) == 0) ok = true;
    }
    freeaddrinfo(ai);
    return ok;
}

namespace {
size_t collect(char* data, size_t size, size_t n, void* out) {
    auto* body = static_cast<std::string*>(out);
    if (body->size() < 4096) body->append(data, std::min(size * n, 4096 - body->size()));
    return size * n;
}
}  // namespace

ProbeResult run_probe(const Probe& p, const std::string& base, int timeout_s) {
    if (!p.argv.empty()) return run_command_probe(p, base, timeout_s);
    static bool init = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    ProbeResult r;
    std::string url = probe_url(p, base);
    r.request = fmt::format("{} {}", p.method, url);
    if (p.expect) r.request += fmt::format(" {}", p.expect);
    CURL* c = init ? curl_easy_init() : nullptr;
    if (!c) {
        r.detail = "libcurl could not be initialised";
        return r;
    }
    std::string body;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, p.method.c_str());
    if (p.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "romimg-probe/1");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    r.status = (int)status;
    if (rc != CURLE_OK) {
        r.detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        return r;
    }
    r.ok = p.expect == 0 || r.status == p.expect;
    if (!r.ok) {
        std::string excerpt = body.substr(0, 200);
        for (char& ch : excerpt)
            if (ch == '\n' || ch == '\r') ch = ' ';
        r.detail = fmt::format("got {} instead of {}; body starts: {}", r.status, p.expect, excerpt);
    }
    return r;
}

}  // namespace romimg::trace
