// TUN creation inside another network namespace (tun.h), via setns(2) around open + TUNSETIFF:
// the kernel puts the device in the namespace of the process that opened /dev/net/tun.
#include "tests/netem/tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hearsay::netem {
namespace {

std::string failed(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

int open_tun_in_netns(const std::string& netns_path, const std::string& name, std::string& error) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    error = "interface name \"" + name + "\" must have 1.." + std::to_string(IFNAMSIZ - 1) + " characters";
    return -1;
  }
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    error = failed("open /proc/self/ns/net");
    return -1;
  }
  int target = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    error = failed("open " + netns_path);
    close(home);
    return -1;
  }
  int fd = -1;
  if (setns(target, CLONE_NEWNET) != 0) {
    error = failed("setns " + netns_path);
  } else {
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      error = failed("open /dev/net/tun");
    } else {
      ifreq ifr{};
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
      std::memcpy(ifr.ifr_name, name.data(), name.size());
      if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        error = failed("TUNSETIFF " + name + " in " + netns_path);
        close(fd);
        fd = -1;
      }
    }
    // Going home cannot fail for a namespace we were in a moment ago; if it did, every later
    // socket would be in the wrong place, so give up rather than go on.
    if (setns(home, CLONE_NEWNET) != 0) {
      error = failed("setns back to the original namespace");
      if (fd >= 0) close(fd);
      fd = -1;
    }
  }
  close(target);
  close(home);
  return fd;
}

}  // namespace hearsay::netem
