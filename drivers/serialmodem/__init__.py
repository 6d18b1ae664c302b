"""Code shared by the serial modem drivers (`drivers.gsm`, `drivers.v253`): the pty simulator runtime, the
one-command-in-flight engine and the other pieces both AT dialects have in common. Dialect differences are
parameters or data; nothing here knows a vendor."""
