#!/usr/bin/env python3
"""Create a blob container on Azurite (the Azure Storage emulator) with its
well-known development account: `azurite_container.py http://127.0.0.1:PORT NAME`.
object_store cannot create containers, and the tests have no Azure CLI."""
import base64, hmac, hashlib, sys, urllib.request
from email.utils import formatdate
acct = "devstoreaccount1"
key = base64.b64decode("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
endpoint, container = sys.argv[1], sys.argv[2]
date = formatdate(usegmt=True); ver = "2021-08-06"
canon_headers = f"x-ms-date:{date}\nx-ms-version:{ver}\n"
canon_res = f"/{acct}/{acct}/{container}\nrestype:container"
sts = "PUT\n\n\n\n\n\n\n\n\n\n\n\n" + canon_headers + canon_res
sig = base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest()).decode()
req = urllib.request.Request(f"{endpoint}/{acct}/{container}?restype=container", method="PUT", data=None,
    headers={"x-ms-date": date, "x-ms-version": ver, "Authorization": f"SharedKey {acct}:{sig}", "Content-Length": "0"})
print(urllib.request.urlopen(req).status)
