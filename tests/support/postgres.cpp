#include "tests/support/postgres.hpp"

#include <arpa/inet.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fleetdesk::testing {
namespace {

// The newest PostgreSQL installed: /usr/lib/postgresql/<major>/bin on Debian.
std::string FindBinDir() {
  if (const char* dir = std::getenv("FLEETDESK_PG_BINDIR")) return dir;
  glob_t found{};
  std::string dir;
  if (::glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, nullptr, &found) == 0 && found.gl_pathc > 0) {
    std::string last = found.gl_pathv[found.gl_pathc - 1];
    dir = last.substr(0, last.rfind('/'));
  }
  ::globfree(&found);
  if (dir.empty()) {
    throw std::runtime_error("PostgreSQL server binaries not found: install postgresql-15");
  }
  return dir;
}

// argv, run as the postgres user when we are root.
std::vector<std::string> AsServerUser(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return argv;
}

void Must(const CommandResult& result, const std::string& what) {
  if (result.exit_code != 0) {
    throw std::runtime_error(what + " failed (" + std::to_string(result.exit_code) +
                             "): " + result.out + result.err);
  }
}

}  // namespace

TestPostgres& TestPostgres::Shared() {
  static TestPostgres server;
  return server;
}

TestPostgres::TestPostgres() : dir_(std::make_unique<TempDir>()), bin_dir_(FindBinDir()) {
  if (::geteuid() == 0) {
    passwd* user = ::getpwnam("postgres");
    if (user == nullptr) throw std::runtime_error("running as root needs the postgres user");
    if (::chown(dir_->path().c_str(), user->pw_uid, user->pw_gid) != 0) {
      throw std::runtime_error("cannot hand the test directory to postgres");
    }
  }
  const std::string data = *dir_ / "data";
  // fsync off and no sync at initdb: a throwaway server's durability is not under test here.
  Must(Run(AsServerUser({bin_dir_ + "/initdb", "-D", data, "-A", "trust", "-U", "fleetdesk", "-E",
                         "UTF8", "--locale=C.UTF-8", "--no-sync"})),
       "initdb");
  // A port can be taken between choosing and binding it; try a few.
  for (int attempt = 0;; ++attempt) {
    port_ = FreePort();
    int started = RunLogged(
        AsServerUser({bin_dir_ + "/pg_ctl", "-D", data, "-w", "-t", "30", "-l",
                      *dir_ / "server.log", "-o",
                      "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) +
                          " -c unix_socket_directories=" + dir_->path() +
                          " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                          " -c max_connections=200",
                      "start"}),
        *dir_ / "pg_ctl.log");
    if (started == 0) break;
    if (attempt == 3) {
      throw std::runtime_error("pg_ctl start failed: " + ReadFile(*dir_ / "pg_ctl.log") +
                               ReadFile(*dir_ / "server.log"));
    }
  }
}

TestPostgres::~TestPostgres() {
  (void)RunLogged(
      AsServerUser({bin_dir_ + "/pg_ctl", "-D", *dir_ / "data", "-m", "immediate", "-w", "stop"}),
      *dir_ / "pg_ctl.log");
}

std::string TestPostgres::NewDatabase() {
  const std::string base = "postgresql://fleetdesk@127.0.0.1:" + std::to_string(port_) + "/";
  const std::string name = "test_" + std::to_string(++databases_);
  PGconn* conn = PQconnectdb((base + "postgres").c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot reach the test PostgreSQL: " + message);
  }
  PGresult* result = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  std::string message = PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  if (!ok) throw std::runtime_error("CREATE DATABASE failed: " + message);
  return base + name;
}

}  // namespace fleetdesk::testing
