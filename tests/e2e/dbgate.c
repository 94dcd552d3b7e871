/* Test-only service (never shipped) for services talking across jails (issue 18): a tiny HTTP
 * server in its own jail that answers from MariaDB, in another jail, over TCP on the
 * appliance's loopback (every jail shares the one network namespace).
 *   GET /health   200 "ok" (no database: what the trace can check, its sandbox has none)
 *   GET /orders   200 with the notes of shop.orders, one per line, read over 127.0.0.1:3306;
 *                 502 with MariaDB's error if the query fails
 * Usage: dbgate PORT DBUSER DBPASSWORD */
#include <mysql.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void reply(int c, int code, const char *body, size_t len) {
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     code, code == 200 ? "OK" : code == 404 ? "Not Found" : "Bad Gateway", len);
    if (write(c, head, n) < 0 || (len && write(c, body, len) < 0)) return;
}

static void orders(int c, const char *user, const char *password) {
    char out[8192] = "";
    size_t len = 0;
    MYSQL *db = mysql_init(NULL);
    unsigned int timeout = 20;
    mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (!mysql_real_connect(db, "127.0.0.1", user, password, "shop", 3306, NULL, 0) ||
        mysql_query(db, "SELECT note FROM orders ORDER BY id") != 0) {
        len = (size_t)snprintf(out, sizeof out, "mariadb: %s\n", mysql_error(db));
        reply(c, 502, out, len);
        mysql_close(db);
        return;
    }
    MYSQL_RES *res = mysql_store_result(db);
    MYSQL_ROW row;
    while (res && (row = mysql_fetch_row(res)) && len < sizeof out - 100)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s\n", row[0] ? row[0] : "NULL");
    if (res) mysql_free_result(res);
    mysql_close(db);
    reply(c, 200, out, len);
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0) { perror("bind"); return 1; }
    printf("DBGATE listening on %s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        int c = accept(s, 0, 0);
        if (c < 0) continue;
        char req[2048] = {0};
        ssize_t n = read(c, req, sizeof req - 1);
        char what[1024] = "";
        if (n > 0 && sscanf(req, "%*s %1023s", what) == 1) {
            if (strcmp(what, "/health") == 0) reply(c, 200, "ok\n", 3);
            else if (strcmp(what, "/orders") == 0) orders(c, argv[2], argv[3]);
            else reply(c, 404, "", 0);
        }
        close(c);
    }
}
