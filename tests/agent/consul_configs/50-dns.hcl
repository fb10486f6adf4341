# DNS tuning, as in Consul's DNS caching guide.
domain    = "consul"
recursors = ["127.0.0.1:5353"]

dns_config {
  allow_stale      = true
  max_stale        = "87600h"
  node_ttl         = "10s"
  service_ttl {
    "*"  = "5s"
    "web" = "30s"
  }
  only_passing     = true
  enable_truncate  = true
  udp_answer_limit = 3
  recursor_timeout = "1s"
}
