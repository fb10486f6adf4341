service { name = "x" check { ttl = "1s" } check { http = "http://a" interval = "1s" } }
services { name = "y" }
