// The certificate directory watch on a real directory with real inotify.
#include "tls/watcher.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace scoregate::tls {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/sg-watch-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

// Runs the io_context until `calls` reaches n or the time is up; returns calls.
int run_until(boost::asio::io_context& io, const int& calls, int n,
              std::chrono::milliseconds limit) {
  io.restart();
  auto end = std::chrono::steady_clock::now() + limit;
  while (calls < n && std::chrono::steady_clock::now() < end) io.run_for(10ms);
  return calls;
}

TEST(DirectoryWatcher, RenameOverAWatchedFileFiresOnceAfterTheBurst) {
  TempDir dir;
  write(dir.path / "cert.pem", "a");
  boost::asio::io_context io;
  int calls = 0;
  DirectoryWatcher w(
      io, [&] { ++calls; }, 50ms);
  ASSERT_TRUE(w.watch({{dir.path.string(), {"cert.pem", "key.pem"}}}).empty());
  for (int i = 0; i < 5; ++i) {  // a burst: one reload, not five
    write(dir.path / ".cert.tmp", "b");
    fs::rename(dir.path / ".cert.tmp", dir.path / "cert.pem");
  }
  EXPECT_EQ(run_until(io, calls, 1, 2000ms), 1);
  EXPECT_EQ(run_until(io, calls, 2, 200ms), 1);
}

TEST(DirectoryWatcher, UnrelatedFilesAreIgnored) {
  TempDir dir;
  boost::asio::io_context io;
  int calls = 0;
  DirectoryWatcher w(
      io, [&] { ++calls; }, 20ms);
  w.watch({{dir.path.string(), {"cert.pem"}}});
  write(dir.path / "notes.txt", "x");
  EXPECT_EQ(run_until(io, calls, 1, 300ms), 0);
  write(dir.path / "cert.pem", "x");
  EXPECT_EQ(run_until(io, calls, 1, 2000ms), 1);
}

TEST(DirectoryWatcher, EveryFileWinsOverANameListInTheSameDirectory) {
  // A --secrets-dir holding NAME.yaml (every file counts) and the ticket key file (one name):
  // in either order, a renewed manifest is still seen.
  for (bool all_first : {true, false}) {
    TempDir dir;
    boost::asio::io_context io;
    int calls = 0;
    DirectoryWatcher w(
        io, [&] { ++calls; }, 20ms);
    WatchTarget all{dir.path.string(), {}}, one{dir.path.string(), {"ticket.key"}};
    auto targets =
        all_first ? std::vector<WatchTarget>{all, one} : std::vector<WatchTarget>{one, all};
    ASSERT_TRUE(w.watch(targets).empty());
    write(dir.path / "scoring-tls.yaml", "x");
    EXPECT_EQ(run_until(io, calls, 1, 2000ms), 1) << (all_first ? "all first" : "list first");
  }
}

TEST(DirectoryWatcher, KubeletDataSymlinkSwapIsSeen) {
  TempDir dir;
  fs::create_directory(dir.path / "..2026_01");
  write(dir.path / "..2026_01" / "cert.pem", "a");
  fs::create_directory_symlink("..2026_01", dir.path / "..data");
  fs::create_symlink("..data/cert.pem", dir.path / "cert.pem");
  boost::asio::io_context io;
  int calls = 0;
  DirectoryWatcher w(
      io, [&] { ++calls; }, 20ms);
  w.watch({{dir.path.string(), {}}});
  fs::create_directory(dir.path / "..2026_02");
  write(dir.path / "..2026_02" / "cert.pem", "b");
  fs::create_directory_symlink("..2026_02", dir.path / "..data_tmp");
  fs::rename(dir.path / "..data_tmp", dir.path / "..data");  // what the kubelet does
  EXPECT_EQ(run_until(io, calls, 1, 2000ms), 1);
}

TEST(DirectoryWatcher, MissingDirectoryIsReportedNotFatal) {
  boost::asio::io_context io;
  DirectoryWatcher w(
      io, [] {}, 20ms);
  auto failed = w.watch({{"/nonexistent/scoregate-dir", {}}});
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].find("/nonexistent/scoregate-dir"), std::string::npos);
  EXPECT_EQ(w.missing(), std::vector<std::string>{"/nonexistent/scoregate-dir"});
}

TEST(DirectoryWatcher, ALabelNamesTheDirectoryInMessages) {
  boost::asio::io_context io;
  DirectoryWatcher w(
      io, [] {}, 20ms);
  auto failed =
      w.watch({{"/nonexistent/secret-path", {"cert.pem"}, "the directory of sslCertPemFile"}});
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].find("secret-path"), std::string::npos) << failed[0];
  EXPECT_NE(failed[0].find("the directory of sslCertPemFile"), std::string::npos);
}

// A renewal that replaces the whole directory (mv away, then a new one in its place) leaves a
// gap with no directory to watch; the watcher must pick the new one up and report a change.
TEST(DirectoryWatcher, DirectoryReplacedAfterAGapIsWatchedAgain) {
  TempDir parent;
  auto dir = parent.path / "tls";
  fs::create_directory(dir);
  write(dir / "cert.pem", "a");
  boost::asio::io_context io;
  int calls = 0;
  DirectoryWatcher w(
      io, [&] { ++calls; }, 20ms);
  ASSERT_TRUE(w.watch({{dir.string(), {"cert.pem"}}}).empty());
  fs::rename(dir, parent.path / "tls.old");
  EXPECT_EQ(run_until(io, calls, 1, 2000ms), 1);  // the directory went away: a change
  EXPECT_EQ(w.missing(), std::vector<std::string>{dir.string()});
  fs::create_directory(dir);  // the replacement arrives later than the rewatch
  write(dir / "cert.pem", "b");
  EXPECT_EQ(run_until(io, calls, 2, 3000ms), 2);  // seen by the retry
  EXPECT_TRUE(w.missing().empty());
  write(dir / "cert.pem", "c");  // and the new directory is watched from then on
  EXPECT_EQ(run_until(io, calls, 3, 2000ms), 3);
}

}  // namespace
}  // namespace scoregate::tls
