# A service definition with its checks, as Consul's services docs write them.
service {
  name = "web"
  id   = "web-1"
  port = 8080
  tags = ["v1", "primary"]
  meta {
    version = "1.2.3"
  }
  enable_tag_override = false

  check {
    id       = "web-http"
    name     = "HTTP on 8080"
    http     = "http://localhost:8080/health"
    method   = "GET"
    header {
      Authorization = ["Bearer local"]
    }
    interval = "10s"
    timeout  = "1s"
  }

  check {
    id       = "web-tcp"
    name     = "TCP on 8080"
    tcp      = "localhost:8080"
    interval = "10s"
    timeout  = "1s"
    deregister_critical_service_after = "90m"
  }
}
