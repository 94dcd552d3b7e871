#include "trace/probe.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fd.h"
#include "ready_check.h"

namespace romimg::trace {

ReadyCheck parse_ready(const std::string& spec) {
    appliance::ReadyCheck c;
    std::string why;
    if (spec.empty() || !appliance::parse_ready_check(spec, c, why))
        throw UsageError(fmt::format("bad ready check '{}': {}", spec,
                                     spec.empty() ? "it is empty (write tcp:PORT or an http(s) URL)"
                                     : why.find("expected") == std::string::npos ? why + " (write tcp:PORT or an http(s) URL)"
                                                                                 : why));
    ReadyCheck r;
    r.kind = c.kind == appliance::ReadyCheck::tcp ? ReadyCheck::tcp : ReadyCheck::http;
    r.host = c.host;
    r.port = c.port;
    if (r.kind == ReadyCheck::http) r.url = spec;
    return r;
}

Probe parse_probe(const std::string& spec) {
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
    if (p.target.find("://") != std::string::npos) return p.target;
    if (base.empty())
        throw UsageError(fmt::format("probe '{} {}' has no host: give --ready tcp:PORT (or a URL) "
                                     "so romimg knows where the service listens", p.method, p.target));
    return base + p.target;
}

bool check_ready_once(const ReadyCheck& r) {
    if (r.kind == ReadyCheck::http) {
        ProbeResult res = run_probe({"GET", r.url, 0}, "", 5);
        return appliance::status_means_ready(res.status);
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
