# expect: nested-typo.hcl: dns_config.only_pasing: unknown config key
dns_config {
  only_pasing = true
}
