"""contrib_awsstorage: Evennia/Django static and media files on S3, and a
reload-safe Twisted web layer.

Importing this package pulls in nothing heavy: no Evennia, no Twisted, no
boto3. Import the submodule you need (``aws_s3_cdn`` for storage,
``webserver`` for the Twisted resources).
"""

__version__ = "0.1.0"
