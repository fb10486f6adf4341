// Consul's check thresholds (its StatusHandler, agent/checks/check.go): a check must pass
// SuccessBeforePassing times in a row before it reports passing, and fail FailuresBeforeWarning
// or FailuresBeforeCritical times in a row before it reports warning or critical. Until then
// the check keeps the status and output it had, so one slow answer does not flap a service out
// of DNS. 0 means at once (Consul's default); FailuresBeforeWarning 0 means "as critical".
// A warning result counts as a success, as in Consul. The first result after a (re)start is
// reported whatever it is: Consul's counters start at their thresholds.
// Pure: fed each run's status, no clock and no I/O.
#pragma once

#include <optional>

#include "catalog/model.h"

namespace hearsay::agent::checks {

class CheckThresholds {
 public:
  CheckThresholds(int success_before_passing, int failures_before_warning, int failures_before_critical)
      : success_before_passing_(success_before_passing),
        failures_before_warning_(failures_before_warning > 0 ? failures_before_warning : failures_before_critical),
        failures_before_critical_(failures_before_critical),
        successes_(success_before_passing),
        failures_(failures_before_critical) {}
  explicit CheckThresholds(const catalog::CheckSpec& spec)
      : CheckThresholds(spec.success_before_passing, spec.failures_before_warning, spec.failures_before_critical) {}

  // What one run's status becomes: passing or warning once enough successes are in a row,
  // critical or warning once enough failures are; nullopt keeps the check as it is.
  std::optional<catalog::HealthStatus> on_result(catalog::HealthStatus status) {
    if (status == catalog::HealthStatus::passing || status == catalog::HealthStatus::warning) {
      failures_ = 0;
      if (successes_ < success_before_passing_) ++successes_;  // counts up to the threshold, no further
      if (successes_ >= success_before_passing_) return status;
      return std::nullopt;
    }
    successes_ = 0;
    if (failures_ < failures_before_critical_) ++failures_;
    if (failures_ >= failures_before_critical_) return status;
    if (failures_ >= failures_before_warning_) return catalog::HealthStatus::warning;
    return std::nullopt;
  }

 private:
  int success_before_passing_;
  int failures_before_warning_;
  int failures_before_critical_;
  int successes_;  // in a row
  int failures_;   // in a row
};

}  // namespace hearsay::agent::checks
