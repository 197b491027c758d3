"""What is inside a product image: components, their versions, and what is known about them.

- :mod:`.signatures` - version signatures of embedded software (data in ``data/signatures.json``);
- :mod:`.packages` - package databases (opkg, dpkg, apk, Python, npm);
- :mod:`.versions` and :mod:`.ids` - version comparison, CPE names and package URLs;
- :mod:`.vulndb` - the local vulnerability database (NVD CVE 2.0, OSV, CISA KEV) and its import;
- :mod:`.update` - downloading the feeds, when the machine has a network;
- :mod:`.matching` - components against the database, with the busybox applet filter;
- :mod:`.vex` - VEX documents that mark vulnerabilities as not affecting the product;
- :mod:`.eol` - end-of-life knowledge (``data/eol.json``);
- :mod:`.cli` - the ``veracity db`` subcommand.
"""
