// Node-level checks, repeated blocks and a list of them.
check {
  id       = "disk"
  name     = "Disk space"
  args     = ["/usr/local/bin/check_disk", "-w", "10%"]
  interval = "30s"
}

checks = [
  {
    id    = "heartbeat"
    name  = "Cron heartbeat"
    ttl   = "5m"
    notes = <<EOT
Updated by the nightly job; critical when it has not run.
EOT
  },
]

enable_local_script_checks = true
