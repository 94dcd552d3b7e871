#include <catch2/catch.hpp>

#include "cli/cli.h"

using romimg::cli::ArgParser;

TEST_CASE("ArgParser reads flags, options, repeats and positionals") {
    bool flag = false;
    std::string out;
    int jobs = 0;
    std::vector<std::string> probes;
    ArgParser p("trace", "usage", {"apache", "--out", "x.json", "--flag", "--jobs=3", "--probe",
                                   "GET / 200", "--probe=GET /a 404"});
    p.flag("--flag", flag);
    p.option("--out", out);
    p.option("--jobs", jobs);
    p.repeated("--probe", probes);
    auto pos = p.parse();
    CHECK(pos == std::vector<std::string>{"apache"});
    CHECK(flag);
    CHECK(out == "x.json");
    CHECK(jobs == 3);
    CHECK(probes == std::vector<std::string>{"GET / 200", "GET /a 404"});
}

TEST_CASE("ArgParser collects the command after --") {
    std::vector<std::string> cmd;
    std::string user;
    ArgParser p("trace", "usage", {"--user", "nobody", "--", "ls", "--user", "-l"});
    p.option("--user", user);
    p.rest_after_dashdash(cmd);
    CHECK(p.parse().empty());
    CHECK(user == "nobody");
    CHECK(cmd == std::vector<std::string>{"ls", "--user", "-l"});
}

TEST_CASE("ArgParser rejects unknown options, missing values and bad numbers") {
    int n = 0;
    std::string s;
    {
        ArgParser p("x", "", {"--nope"});
        CHECK_THROWS_AS(p.parse(), romimg::UsageError);
    }
    {
        ArgParser p("x", "", {"--out"});
        p.option("--out", s);
        CHECK_THROWS_WITH(p.parse(), Catch::Contains("--out needs a value"));
    }
    {
        ArgParser p("x", "", {"--jobs", "two"});
        p.option("--jobs", n);
        CHECK_THROWS_WITH(p.parse(), Catch::Contains("needs a number"));
    }
}
