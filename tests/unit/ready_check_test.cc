// The ready check grammar (builder and romimg-init share it) and PID 1's non-blocking probe,
// against real loopback sockets.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "ready_check.h"
#include "ready_probe.h"

using namespace romimg::appliance;

namespace {

ReadyCheck parsed(const std::string& spec) {
    ReadyCheck r;
    std::string why;
    REQUIRE(parse_ready_check(spec, r, why));
    return r;
}

std::string problem(const std::string& spec) {
    ReadyCheck r;
    std::string why;
    CHECK_FALSE(parse_ready_check(spec, r, why));
    return why;
}

// A listening loopback socket on a free port.
struct Listener {
    int fd = -1;
    int port = 0;
    Listener() {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(fd, (sockaddr*)&a, sizeof a) == 0);
        REQUIRE(listen(fd, 8) == 0);
        socklen_t l = sizeof a;
        getsockname(fd, (sockaddr*)&a, &l);
        port = ntohs(a.sin_port);
    }
    ~Listener() { close(fd); }
    // Accepts one connection, reads the request, answers `reply` and closes.
    std::string serve(const std::string& reply) {
        int c = accept(fd, nullptr, nullptr);
        char buf[1024];
        ssize_t n = read(c, buf, sizeof buf);
        (void)!write(c, reply.data(), reply.size());
        close(c);
        return n > 0 ? std::string(buf, (size_t)n) : "";
    }
};

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Steps the probe as PID 1's loop does until it passes or `seconds` have gone.
bool step_until(ReadyProbe& p, const ReadyCheck& c, double seconds) {
    const double end = now_s() + seconds;
    while (now_s() < end) {
        if (p.step(c, now_s())) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

}  // namespace

TEST_CASE("ready checks: tcp and http forms parse to the loopback port and path") {
    CHECK(parsed("").kind == ReadyCheck::none);
    auto t = parsed("tcp:8080");
    CHECK(t.kind == ReadyCheck::tcp);
    CHECK(t.port == 8080);
    CHECK(parsed("tcp:localhost:80").host == "localhost");
    auto h = parsed("http://127.0.0.1:8080/examples/index.html?x=1");
    CHECK(h.kind == ReadyCheck::http);
    CHECK(h.port == 8080);
    CHECK(h.path == "/examples/index.html?x=1");
    CHECK(parsed("http://localhost").port == 80);
    CHECK(parsed("http://localhost").path == "/");
    CHECK(parsed("https://localhost/").port == 443);
    CHECK(parsed("https://localhost/").kind == ReadyCheck::https);
    auto v6 = parsed("http://[::1]:8081/");
    CHECK(v6.host == "::1");
    CHECK(v6.port == 8081);
}

TEST_CASE("ready checks: bad ones say what is wrong") {
    CHECK(problem("tcp:99999").find("1-65535") != std::string::npos);
    CHECK(problem("tcp:-1").find("1-65535") != std::string::npos);
    CHECK(problem("tcp:").find("1-65535") != std::string::npos);
    CHECK(problem("tcp::80").find("host") != std::string::npos);
    CHECK(problem("udp:53").find("expected tcp:PORT, postgres:PORT or an http:// URL") != std::string::npos);
    CHECK(problem("http://127.0.0.1:/").find("port") != std::string::npos);
    CHECK(problem("http://127.0.0.1:80x/").find("1-65535") != std::string::npos);
    CHECK(problem("http:///x").find("no host") != std::string::npos);
    CHECK(problem("http://user@host/").find("plain host") != std::string::npos);
    CHECK(problem("http://[::1/").find("']'") != std::string::npos);
    CHECK(problem("http://h/a b").find("space") != std::string::npos);
    CHECK(problem("http://h/\r\nX-Evil: 1").find("control") != std::string::npos);
}

TEST_CASE("ready checks: the status line decides, and only statuses below 500 mean ready") {
    CHECK(http_status_of("HTTP/1.1 200 OK\r") == 200);
    CHECK(http_status_of("HTTP/1.0 503 Service Unavailable") == 503);
    CHECK(http_status_of("HTTP/2 404") == 404);
    CHECK(http_status_of("HTTP/1.1 2000 OK") == 0);
    CHECK(http_status_of("HTTP/1.1 abc") == 0);
    CHECK(http_status_of("SSH-2.0-OpenSSH") == 0);
    CHECK(http_status_of("HTTP/1.1 099 x") == 0);
    CHECK(status_means_ready(200));
    CHECK(status_means_ready(404));
    CHECK_FALSE(status_means_ready(503));
    CHECK_FALSE(status_means_ready(0));
    auto req = ready_request(parsed("http://127.0.0.1:8080/x"));
    CHECK(req.rfind("GET /x HTTP/1.0\r\n", 0) == 0);
    CHECK(req.find("\r\n\r\n") == req.size() - 4);
}

TEST_CASE("PID 1's probe: tcp passes once something listens") {
    ReadyProbe p;
    Listener l;
    CHECK(p.step(parsed("tcp:" + std::to_string(l.port)), now_s()));
    int closed_port;
    {
        Listener gone;
        closed_port = gone.port;
    }
    CHECK_FALSE(p.step(parsed("tcp:" + std::to_string(closed_port)), now_s()));
}

TEST_CASE("PID 1's probe: http waits for an answer without blocking, and a 503 is not ready") {
    Listener l;
    const ReadyCheck c = parsed("http://127.0.0.1:" + std::to_string(l.port) + "/ready");
    ReadyProbe p;
    // Listening but not answering (Tomcat bound during init, its webapps still deploying): the
    // step returns at once, not ready.
    const double t0 = now_s();
    for (int i = 0; i < 5; ++i) CHECK_FALSE(p.step(c, now_s()));
    CHECK(now_s() - t0 < 1.0);
    std::string request;
    std::thread server([&] { request = l.serve("HTTP/1.1 503 Service Unavailable\r\n\r\n"); });
    CHECK_FALSE(step_until(p, c, 2));
    server.join();
    CHECK(request.rfind("GET /ready HTTP/1.0\r\n", 0) == 0);
    CHECK(p.last_status() == 503);
    std::thread server2([&] { l.serve("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); });
    CHECK(step_until(p, c, 5));
    server2.join();
    CHECK(p.last_status() == 200);
}

TEST_CASE("PID 1's probe: a service that closes without an HTTP answer is not ready") {
    Listener l;
    const ReadyCheck c = parsed("http://127.0.0.1:" + std::to_string(l.port) + "/");
    ReadyProbe p;
    std::thread server([&] { l.serve("SSH-2.0-OpenSSH_9.2\r\n"); });
    CHECK_FALSE(step_until(p, c, 1.5));
    server.join();
    CHECK(p.last_status() == 0);
}

namespace {

// A PostgreSQL ErrorResponse with these fields ("SFATAL", "C57P03", ...).
std::string pg_error(const std::vector<std::string>& fields) {
    std::string body;
    for (const auto& f : fields) body += f + '\0';
    body += '\0';
    const uint32_t len = 4 + (uint32_t)body.size();
    std::string m = "E";
    for (int shift = 24; shift >= 0; shift -= 8) m += (char)((len >> shift) & 0xff);
    return m + body;
}

}  // namespace

TEST_CASE("ready checks: postgres:PORT sends a StartupMessage and reads the answer") {
    auto c = parsed("postgres:5432");
    CHECK(c.kind == ReadyCheck::postgres);
    CHECK(c.port == 5432);
    CHECK(problem("postgres:x").find("expected postgres:PORT") != std::string::npos);
    const std::string m = ready_request(c);
    REQUIRE(m.size() == 8 + 41);
    CHECK(m.substr(0, 8) == std::string("\0\0\0\x31\0\x03\0\0", 8));  // length 49, protocol 3.0
    CHECK(m.substr(8) == std::string("user\0romimg-ready\0database\0romimg-ready\0\0", 41));

    const std::string starting = pg_error({"SFATAL", "VFATAL", "C57P03", "Mthe database system is starting up"});
    CHECK(postgres_answer(starting, true) == PgAnswer::not_ready);
    CHECK(postgres_answer(starting.substr(0, 10), false) == PgAnswer::more);
    CHECK(postgres_answer(starting.substr(0, 10), true) == PgAnswer::not_ready);
    CHECK(postgres_answer(pg_error({"SFATAL", "C28000", "Mno pg_hba.conf entry"}), true) == PgAnswer::ready);
    CHECK(postgres_answer(pg_error({"SFATAL", "C3D000"}), false) == PgAnswer::ready);
    CHECK(postgres_answer(std::string("R\0\0\0\x0c\0\0\0\x0a", 9), false) == PgAnswer::ready);  // SASL
    CHECK(postgres_answer("", false) == PgAnswer::more);
    CHECK(postgres_answer("", true) == PgAnswer::not_ready);
    CHECK(postgres_answer("HTTP/1.1 400 Bad Request\r\n", true) == PgAnswer::not_ready);
    CHECK(postgres_answer(std::string("E\xff\xff\xff\xff", 5), false) == PgAnswer::not_ready);  // absurd length
}

TEST_CASE("PID 1's probe: postgres is ready when the server takes sessions, not while it starts") {
    Listener l;
    const ReadyCheck c = parsed("postgres:" + std::to_string(l.port));
    ReadyProbe p;
    std::string request;
    std::thread server([&] { request = l.serve(pg_error({"SFATAL", "C57P03", "Mthe database system is starting up"})); });
    CHECK_FALSE(step_until(p, c, 1.5));
    server.join();
    CHECK(request == ready_request(c));
    std::thread server2([&] { l.serve(pg_error({"SFATAL", "C28P01", "Mpassword authentication failed"})); });
    CHECK(step_until(p, c, 5));
    server2.join();
}
