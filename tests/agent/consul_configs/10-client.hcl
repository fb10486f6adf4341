/*
 * A client agent as deployment guides write it: templates for the addresses, TLS and ACL
 * blocks for the servers, telemetry for Prometheus, log shipping in JSON.
 */
node_name  = "web-01"
log_level  = "INFO"
log_json   = true
bind_addr  = "{{ GetInterfaceIP \"lo\" }}"
client_addr = "{{ GetInterfaceIP \"lo\" }}"
advertise_addr = "{{ GetAllInterfaces | include \"name\" \"^lo$\" | include \"type\" \"IPv4\" | attr \"address\" }}"

leave_on_terminate   = true
rejoin_after_leave   = true
enable_syslog        = true
syslog_facility      = "LOCAL0"
disable_update_check = true

retry_join     = ["localhost:1"]
retry_interval = "15s"

ports {
  grpc  = 8502
  https = -1
  dns   = 8600
}

addresses {
  http = "127.0.0.1"
  dns  = "127.0.0.1"
}

tls {
  defaults {
    ca_file         = "/etc/consul.d/certs/consul-agent-ca.pem"
    verify_incoming = false
    verify_outgoing = true
  }
  internal_rpc {
    verify_server_hostname = true
  }
}

auto_encrypt {
  tls = true
}

acl {
  enabled        = true
  default_policy = "deny"
  tokens {
    agent = "00000000-0000-0000-0000-000000000001"
  }
}

telemetry {
  prometheus_retention_time = "24h"
  disable_hostname          = true
}

limits {
  http_max_conns_per_client = 400
  rpc_max_conns_per_client  = 100
}

http_config {
  response_headers {
    "Access-Control-Allow-Origin" = "*"
  }
}

performance {
  raft_multiplier = 1
}

connect {
  enabled = false
}

node_meta {
  rack = "r1"
  env  = "prod"
}
