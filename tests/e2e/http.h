// The e2e drivers' HTTP/1.0 client: the whole response to GET PATH on 127.0.0.1:PORT ("" if
// nothing answered within 30 s of silence).
#pragma once

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

inline std::string http_get(int port, const std::string& path) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {30, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    if (connect(s, (struct sockaddr*)&a, sizeof a) == 0) {
        std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
        if (write(s, req.data(), req.size()) == (ssize_t)req.size()) {
            char buf[4096];
            ssize_t n;
            while ((n = read(s, buf, sizeof buf)) > 0) out.append(buf, n);
        }
    }
    close(s);
    return out;
}
