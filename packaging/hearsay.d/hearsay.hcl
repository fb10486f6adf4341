# hearsay agent configuration (HCL; *.json works too). Every *.hcl and *.json file of
# /etc/hearsay.d/ is read in lexical order; later files win. Most Consul client-agent keys are
# understood (README "Configuration"); keys hearsay does not use are ignored with a warning.
# Check a change with `hearsay validate /etc/hearsay.d`, apply it with `systemctl reload hearsay`.

# Where the catalog replica and this agent's registrations live (the unit's StateDirectory).
data_dir = "/var/lib/hearsay"

# datacenter = "dc1"
# node_name  = "web-01"          # default: the host name
# log_level  = "info"            # trace, debug, info, warn, error
# log_json   = false             # one JSON object per line, for log shippers

# Gossip binds here; with several private addresses, name one (a template works too).
# bind_addr      = "{{ GetPrivateIP }}"
# advertise_addr = "{{ GetInterfaceIP \"eth0\" }}"

# HTTP API and DNS listen here (a space-separated list listens on each).
client_addr = "127.0.0.1"

# ports {
#   http     = 8500
#   dns      = 8600               # 53 works too: the unit grants CAP_NET_BIND_SERVICE
#   serf_lan = 8301
# }

# Other agents to join at start, retried until one answers (names are resolved each time).
# retry_join = ["hearsay-1.example.internal", "10.0.0.12"]

# Gossip encryption: `hearsay keygen` makes a key; the same key on every agent.
# encrypt = "..."

# Services and checks of this host, in Consul's format (here or in their own files):
# service {
#   name = "web"
#   port = 8080
#   check {
#     http     = "http://127.0.0.1:8080/health"
#     interval = "10s"
#   }
# }
