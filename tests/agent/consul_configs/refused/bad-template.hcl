# expect: -bind: unknown template function "GetPrivateIp"
bind_addr = "{{ GetPrivateIp }}"
