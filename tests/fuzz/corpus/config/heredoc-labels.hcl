a = <<-EOT
  x
    y
  EOT
b = [1, 2.5e3, -0x10, "\u00e9\U0001F600"]
c "l1" "l2" { d = { e = true } }
