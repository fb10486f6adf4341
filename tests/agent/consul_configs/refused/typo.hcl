# expect: typo.hcl: datacentre: unknown config key
datacentre = "dc1"
data_dir   = "/opt/consul"
