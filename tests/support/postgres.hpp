// A PostgreSQL server of the tests' own: initdb into a temporary directory, started by pg_ctl on
// a free loopback port, stopped and removed when the test process ends. PostgreSQL refuses to
// run as root, so under root it runs as the `postgres` user that Debian's package creates.
#pragma once

#include <memory>
#include <string>

namespace fleetdesk::testing {

class TempDir;

class TestPostgres {
 public:
  // The process's one server, started on first use (about a second).
  static TestPostgres& Shared();
  ~TestPostgres();
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  // A new, empty database; its postgresql:// URL.
  std::string NewDatabase();
  int port() const { return port_; }

 private:
  TestPostgres();
  std::unique_ptr<TempDir> dir_;
  std::string bin_dir_;
  int port_ = 0;
  int databases_ = 0;
};

}  // namespace fleetdesk::testing
