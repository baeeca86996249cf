"""The storage layer's parts, under the public classes of ``aws_s3_cdn``.

``conf`` is the options table (every setting, its default and its source);
``errors`` turns botocore errors into Django exceptions with a fix;
``file`` is the file object ``open()`` returns; ``urls`` builds URLs;
``listing`` reads ListObjectsV2 pages fast; ``multipart`` uploads in parts.
Neither Evennia nor Twisted is imported here.
"""
