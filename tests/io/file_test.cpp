// atomic_write_file and read_whole_file: success replaces, every failure leaves the old file
// byte-identical and no temporary file behind.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <thread>

#include "io/file.hpp"
#include "test_model.hpp"

namespace mamlpp::io::test {
namespace {

class AtomicWrite : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "mamlpp_io_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::chmod(dir_.c_str(), 0755);
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (const dirent* e = ::readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
      ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::vector<uint8_t> bytes(std::size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31);
    return v;
  }
  std::string dir_;
};

TEST_F(AtomicWrite, CreatesAndReplaces) {
  const auto a = bytes(1000, 1), b = bytes(10, 2);
  atomic_write_file(path("m.maml"), a);
  EXPECT_EQ(read_whole_file(path("m.maml")), a);
  atomic_write_file(path("m.maml"), b);
  EXPECT_EQ(read_whole_file(path("m.maml")), b);
  atomic_write_file(path("m.maml"), std::vector<uint8_t>{});
  EXPECT_TRUE(read_whole_file(path("m.maml")).empty());
  EXPECT_EQ(entries(), std::vector<std::string>{"m.maml"});
}

TEST_F(AtomicWrite, RelativePathInTheCurrentDirectory) {
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(dir_.c_str()), 0);
  atomic_write_file("rel.maml", bytes(5, 3));
  ASSERT_EQ(::chdir(cwd), 0);
  EXPECT_EQ(read_whole_file(path("rel.maml")), bytes(5, 3));
  EXPECT_EQ(entries(), std::vector<std::string>{"rel.maml"});
}

TEST_F(AtomicWrite, KeepsTheReplacedFilesPermissions) {
  atomic_write_file(path("p"), bytes(4, 0));
  ASSERT_EQ(::chmod(path("p").c_str(), 0600), 0);
  atomic_write_file(path("p"), bytes(8, 0));
  struct stat st {};
  ASSERT_EQ(::stat(path("p").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AtomicWrite, PathIsADirectory) {
  ASSERT_EQ(::mkdir(path("d").c_str(), 0755), 0);
  expect_error([&] { atomic_write_file(path("d"), bytes(10, 0)); }, ErrorKind::Io,
               "cannot write '" + path("d") + "': Is a directory");
  EXPECT_EQ(entries(), std::vector<std::string>{"d"});
  expect_error([&] { atomic_write_file(dir_ + "/", bytes(10, 0)); }, ErrorKind::Io,
               "not a file name");
}

TEST_F(AtomicWrite, ParentDoesNotExist) {
  expect_error([&] { atomic_write_file(path("no/such/m.maml"), bytes(10, 0)); }, ErrorKind::Io,
               "cannot create a temporary file for '" + path("no/such/m.maml") +
                   "': No such file or directory");
  EXPECT_TRUE(entries().empty());
}

TEST_F(AtomicWrite, DirectoryNotWritable) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into read-only directories; see FileTooLarge";
  const auto old = bytes(100, 9);
  atomic_write_file(path("m"), old);
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  expect_error([&] { atomic_write_file(path("m"), bytes(50, 1)); }, ErrorKind::Io,
               "Permission denied");
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  EXPECT_EQ(read_whole_file(path("m")), old);
  EXPECT_EQ(entries(), std::vector<std::string>{"m"});
}

// A full disk, simulated: the write runs in a child whose file size limit is 4 KiB, with SIGXFSZ
// ignored so write() fails with EFBIG. Works as root too.
TEST_F(AtomicWrite, FileTooLargeLeavesTheOldFileIntact) {
  const auto old = bytes(1000, 5);
  atomic_write_file(path("m"), old);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      atomic_write_file(path("m"), bytes(64 * 1024, 6));
      ::_exit(10);  // should have failed
    } catch (const Error& e) {
      const std::string msg = e.what();
      const bool ok = e.kind() == ErrorKind::Io &&
                      msg.find("cannot write '" + path("m") + "': File too large") != std::string::npos;
      ::_exit(ok ? 0 : 11);
    } catch (...) {
      ::_exit(12);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child died by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: the write succeeded; 11: wrong error; 12: not an Error";
  EXPECT_EQ(read_whole_file(path("m")), old);
  EXPECT_EQ(entries(), std::vector<std::string>{"m"});
}

TEST_F(AtomicWrite, ConcurrentWritersNeverMixContents) {
  const std::string p = path("m");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) atomic_write_file(p, bytes(3000 + t, static_cast<uint8_t>(t)));
    });
  for (auto& th : threads) th.join();
  const auto got = read_whole_file(p);
  ASSERT_GE(got.size(), 3000u);
  const int t = static_cast<int>(got.size() - 3000);
  EXPECT_EQ(got, bytes(3000 + t, static_cast<uint8_t>(t)));
  EXPECT_EQ(entries(), std::vector<std::string>{"m"});
}

// Runs read(path) on another thread; fails the test (instead of hanging it) when the read has not
// returned within 20 s, then unblocks it by opening the FIFO for writing.
void expect_refused_without_blocking(const std::string& path,
                                     const std::function<void()>& read, ErrorKind kind,
                                     const std::string& needle) {
  auto done = std::async(std::launch::async, [&] { expect_error(read, kind, needle); });
  if (done.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << path << ": the read blocked";
    const int w = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (w >= 0) ::close(w);
  }
  done.get();
}

TEST_F(AtomicWrite, ReadWholeFileRefusesSpecialFiles) {
  // A FIFO nobody writes to: open and read would block forever.
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  expect_refused_without_blocking(path("fifo"), [&] { read_whole_file(path("fifo")); }, ErrorKind::Io,
                                  "cannot read '" + path("fifo") + "': a FIFO (named pipe), not a regular file");
  expect_refused_without_blocking(path("fifo"), [&] { read_safetensors_file(path("fifo")); },
                                  ErrorKind::Io, "FIFO");
  // A device that never ends: refused before a byte is read (it would fill memory up to the cap).
  expect_error([&] { read_whole_file("/dev/zero"); }, ErrorKind::Io,
               "cannot read '/dev/zero': a character device, not a regular file");
  expect_error([&] { read_safetensors_file("/dev/zero"); }, ErrorKind::Io, "character device");
  expect_error([&] { read_safetensors_file(dir_); }, ErrorKind::Io, "Is a directory");
}

TEST_F(AtomicWrite, SafetensorsHeaderLengthIsCheckedBeforeTheRestIsRead) {
  // A 256 MiB sparse file (no disk blocks) whose header length is absurd: refused from its first
  // 8 bytes with a Format error, without reading (or allocating for) the rest.
  const std::string p = path("sparse.maml");
  {
    std::ofstream f(p, std::ios::binary);
    const uint8_t len[8] = {0, 0, 0, 0x40, 0, 0, 0, 0};  // 2^30
    f.write(reinterpret_cast<const char*>(len), 8);
  }
  ASSERT_EQ(::truncate(p.c_str(), off_t{256} << 20), 0);
  expect_error([&] { read_safetensors_file(p); }, ErrorKind::Format, "exceeds the limit");
  // The same checks as the parser's.
  const auto good = tiny_file();
  atomic_write_file(p, good);
  EXPECT_EQ(read_safetensors_file(p), good);
  atomic_write_file(p, bytes(5, 0));
  expect_error([&] { read_safetensors_file(p); }, ErrorKind::Format, "too short for the 8-byte header length");
  std::vector<uint8_t> past(100, ' ');
  past[0] = 200;
  for (int i = 1; i < 8; ++i) past[i] = 0;
  atomic_write_file(p, past);
  expect_error([&] { read_safetensors_file(p); }, ErrorKind::Format, "runs past the end of the file");
}

TEST_F(AtomicWrite, ReadWholeFileErrors) {
  expect_error([&] { read_whole_file(path("missing")); }, ErrorKind::Io,
               "cannot open '" + path("missing") + "': No such file or directory");
  expect_error([&] { read_whole_file(dir_); }, ErrorKind::Io,
               "cannot read '" + dir_ + "': Is a directory");
  atomic_write_file(path("big"), bytes(100, 0));
  expect_error([&] { read_whole_file(path("big"), 99); }, ErrorKind::Io,
               "100 bytes is more than the limit of 99");
  EXPECT_EQ(read_whole_file(path("big"), 100).size(), 100u);
  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod(path("big").c_str(), 0), 0);
    expect_error([&] { read_whole_file(path("big")); }, ErrorKind::Io, "Permission denied");
  }
}

TEST_F(AtomicWrite, ModelFileThroughTheFileSystem) {
  const auto file = tiny_file(true);
  atomic_write_file(path("model.maml"), file);
  const auto back = read_whole_file(path("model.maml"));
  EXPECT_EQ(back, file);
  EXPECT_NO_THROW(decode_model_file(back.data(), back.size()));
}

}  // namespace
}  // namespace mamlpp::io::test
