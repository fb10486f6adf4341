# expect: bad-syntax.hcl: invalid HCL at line 4, column 1: block not closed by }
service {
  name = "web"
