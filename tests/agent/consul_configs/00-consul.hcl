# The shape of the consul.hcl a Consul package installs in /etc/consul.d/: a client agent.
# Full configuration options: Consul's agent configuration reference.

# datacenter: the agent's datacenter ("dc1" when not given).
datacenter = "dc1"

# data_dir: where the agent keeps its state.
data_dir = "/opt/consul"

# client_addr: where HTTP and DNS listen (loopback by default).
# client_addr = "0.0.0.0"

# ui_config: the web UI.
ui_config {
  enabled = true
}

# server: this is a client agent.
server = false

# bind_addr = "0.0.0.0" # Listen on all IPv4
# advertise_addr = "127.0.0.1"

# encrypt: the gossip key (consul keygen).
encrypt = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="

retry_join = ["localhost:1"]
