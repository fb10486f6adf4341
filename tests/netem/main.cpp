// hearsay_netem: an impaired link between two network namespaces, for the tests and benchmarks
// (issue 16; this kernel has no `tc netem`). It opens a TUN device in each namespace and moves
// every IP packet read from one to the other through a Direction (link_model.h): delay, jitter,
// loss, a rate limit and cut, changed at run time over stdin (control.h). One thread, one epoll
// loop and one timerfd set to the next delivery, so idle costs nothing and 100 ms at thousands of
// packets/s costs a few syscalls per packet. See tests/netem/README.md.
#include <fcntl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "tests/netem/control.h"
#include "tests/netem/link_model.h"
#include "tests/netem/tun.h"

namespace hearsay::netem {
namespace {

constexpr std::size_t kMaxPacket = 65535;    // the largest IP packet a TUN can hand us
constexpr int kReadsPerWakeup = 256;         // then the other fd gets its turn (epoll is level-triggered)
constexpr std::size_t kDeliveriesPerPass = 4096;
constexpr std::size_t kMaxControlLine = 4096;

struct Options {
  std::string netns_a, netns_b, dev_a = "netem0", dev_b = "netem0";
  uint64_t seed = 1;
  bool realtime = false;
};

void reply(const std::string& line) {
  std::string out = line + "\n";
  // stdout is a pipe to the test; if it is gone the test is gone, and end of stdin follows.
  if (write(STDOUT_FILENO, out.data(), out.size()) < 0) return;
}

std::string stats_line(Direction& ab, Direction& ba) {
  std::string out = "ok";
  for (auto [name, dir] : {std::pair<const char*, Direction*>{"ab", &ab}, {"ba", &ba}}) {
    const Counters& c = dir->counters();
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  " %s.received=%llu %s.delivered=%llu %s.bytes=%llu %s.lost=%llu %s.cut=%llu %s.queue_full=%llu"
                  " %s.overflow=%llu %s.write_errors=%llu %s.in_flight=%zu",
                  name, static_cast<unsigned long long>(c.received), name,
                  static_cast<unsigned long long>(c.delivered), name, static_cast<unsigned long long>(c.bytes), name,
                  static_cast<unsigned long long>(c.lost), name, static_cast<unsigned long long>(c.cut), name,
                  static_cast<unsigned long long>(c.queue_full), name, static_cast<unsigned long long>(c.overflow),
                  name, static_cast<unsigned long long>(c.write_errors), name, dir->in_flight_packets());
    out += buf;
  }
  return out;
}

class Forwarder {
 public:
  Forwarder(int tun_a, int tun_b, uint64_t seed) : tun_{tun_a, tun_b}, ab_(seed), ba_(seed ^ 0x9e3779b97f4a7c15ull) {}

  int run();

 private:
  bool add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  void read_packets(int from, Direction& dir);
  bool read_control();  // false: quit or end of input
  bool handle_line(std::string_view line);
  void deliver(Direction& dir, int to);
  void arm_timer();

  int tun_[2];
  Direction ab_, ba_;
  int epoll_ = -1, timer_ = -1;
  std::optional<Clock::time_point> armed_;  // what the timerfd is set to; nothing: disarmed
  std::string control_;
  bool discarding_ = false;  // inside a control line that was too long
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(kMaxPacket);
};

int Forwarder::run() {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);  // steady_clock is CLOCK_MONOTONIC
  if (epoll_ < 0 || timer_ < 0 || !add(tun_[0]) || !add(tun_[1]) || !add(timer_) || !add(STDIN_FILENO)) {
    std::fprintf(stderr, "hearsay_netem: epoll setup: %s\n", std::strerror(errno));
    return 1;
  }
  reply("ready");
  for (;;) {
    epoll_event events[8];
    int n = epoll_wait(epoll_, events, 8, -1);
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "hearsay_netem: epoll_wait: %s\n", std::strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == tun_[0]) {
        read_packets(tun_[0], ab_);
      } else if (fd == tun_[1]) {
        read_packets(tun_[1], ba_);
      } else if (fd == timer_) {
        uint64_t expirations;
        if (read(timer_, &expirations, sizeof expirations) < 0) { /* EAGAIN: nothing to consume */ }
        armed_.reset();  // it fired: a one-shot timer is disarmed now
      } else if (fd == STDIN_FILENO && !read_control()) {
        return 0;
      }
    }
    deliver(ab_, tun_[1]);
    deliver(ba_, tun_[0]);
    arm_timer();
  }
}

void Forwarder::read_packets(int from, Direction& dir) {
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    ssize_t got = read(from, buf_.data(), buf_.size());
    if (got > 0) {
      dir.arrive(std::vector<uint8_t>(buf_.begin(), buf_.begin() + got), Clock::now());
      continue;
    }
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // The interface was deleted (EBADFD) or the fd broke: epoll would report it readable forever
    // and a real-time loop would spin, so stop watching it. That side is now a dead end; the
    // control channel still answers and the other direction's packets count as write errors.
    std::fprintf(stderr, "hearsay_netem: TUN fd %d: %s; no longer reading it\n", from,
                 got == 0 ? "end of file" : std::strerror(errno));
    if (epoll_ctl(epoll_, EPOLL_CTL_DEL, from, nullptr) != 0) {
      std::fprintf(stderr, "hearsay_netem: epoll_ctl DEL: %s\n", std::strerror(errno));
    }
    return;
  }
}

void Forwarder::deliver(Direction& dir, int to) {
  dir.deliver_due(Clock::now(), kDeliveriesPerPass, [&](const std::vector<uint8_t>& packet) {
    if (write(to, packet.data(), packet.size()) != static_cast<ssize_t>(packet.size())) ++dir.counters().write_errors;
  });
}

void Forwarder::arm_timer() {
  auto a = ab_.next_due(), b = ba_.next_due();
  std::optional<Clock::time_point> due;
  if (a || b) due = a && b ? std::min(*a, *b) : a ? *a : *b;
  // Usually still armed for the same packet (a packet arrived behind it): save the syscall.
  if (due == armed_) return;
  armed_ = due;
  itimerspec spec{};
  if (due) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(due->time_since_epoch()).count();
    if (ns <= 0) ns = 1;  // a zero it_value would disarm; a past time fires at once
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  }
  if (timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    std::fprintf(stderr, "hearsay_netem: timerfd_settime: %s\n", std::strerror(errno));
  }
}

bool Forwarder::read_control() {
  char chunk[4096];
  ssize_t got = read(STDIN_FILENO, chunk, sizeof chunk);
  if (got == 0) return false;  // the test closed our stdin (or died): the link goes away
  if (got < 0) return errno == EINTR || errno == EAGAIN;
  for (ssize_t i = 0; i < got; ++i) {
    if (chunk[i] != '\n') {
      if (discarding_) continue;
      if (control_.size() >= kMaxControlLine) {
        reply("error line too long");
        control_.clear();
        discarding_ = true;
        continue;
      }
      control_ += chunk[i];
      continue;
    }
    bool was_discarding = discarding_;
    discarding_ = false;
    std::string line;
    line.swap(control_);
    if (!was_discarding && !handle_line(line)) return false;
  }
  return true;
}

bool Forwarder::handle_line(std::string_view line) {
  auto parsed = parse_command(line);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    reply("error " + *error);
    return true;
  }
  const Command& command = std::get<Command>(parsed);
  if (std::holds_alternative<QuitCommand>(command)) {
    reply("ok");
    return false;
  }
  if (std::holds_alternative<StatsCommand>(command)) {
    reply(stats_line(ab_, ba_));
    return true;
  }
  const auto& set = std::get<SetCommand>(command);
  for (auto [which, dir] : {std::pair{Which::ab, &ab_}, std::pair{Which::ba, &ba_}}) {
    if (set.which != Which::both && set.which != which) continue;
    Impairment impairment = dir->impairment();
    set.change.apply_to(impairment);
    dir->configure(impairment);
  }
  reply("ok");
  return true;
}

int usage() {
  std::fprintf(stderr,
               "usage: hearsay_netem --netns-a PATH --netns-b PATH [--dev-a NAME] [--dev-b NAME] [--seed N]\n"
               "                     [--realtime 1]\n"
               "  Creates a TUN device in each namespace (default name netem0) and forwards between them.\n"
               "  Control lines on stdin: see tests/netem/README.md.\n");
  return 2;
}

}  // namespace
}  // namespace hearsay::netem

int main(int argc, char** argv) {
  using namespace hearsay::netem;
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    std::string value = argv[++i];
    if (arg == "--netns-a") {
      options.netns_a = value;
    } else if (arg == "--netns-b") {
      options.netns_b = value;
    } else if (arg == "--dev-a") {
      options.dev_a = value;
    } else if (arg == "--dev-b") {
      options.dev_b = value;
    } else if (arg == "--realtime") {
      options.realtime = value == "1";
    } else if (arg == "--seed") {
      char* end = nullptr;
      options.seed = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0') return usage();
    } else {
      return usage();
    }
  }
  if (options.netns_a.empty() || options.netns_b.empty()) return usage();
  // A test killed with SIGKILL cannot close our stdin cleanly on every path; die with it.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  std::signal(SIGPIPE, SIG_IGN);
  // On a loaded machine (CI runs the suite in parallel on 2 cores) a normal-priority forwarder
  // wakes up late: 100 ms RTT measured 104 ms median, 121 ms max, at load 9. SCHED_FIFO makes it
  // 100.0 ms. The loop does bounded work per wakeup and sleeps in epoll, so it cannot starve
  // the machine (and the kernel keeps 5 % for others whatever happens).
  if (options.realtime) {
    sched_param param{};
    param.sched_priority = 10;
    if (sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
      std::fprintf(stderr, "hearsay_netem: SCHED_FIFO refused (%s); delays may run late under load\n",
                   std::strerror(errno));
    }
  }
  std::string error;
  int a = open_tun_in_netns(options.netns_a, options.dev_a, error);
  int b = a < 0 ? -1 : open_tun_in_netns(options.netns_b, options.dev_b, error);
  if (a < 0 || b < 0) {
    std::fprintf(stderr, "hearsay_netem: %s\n", error.c_str());
    return 1;
  }
  return Forwarder(a, b, options.seed).run();
}
