"""The storage layer's parts, under the public classes of ``aws_s3_cdn``.

``conf``: the options table (every setting, its default and its source);
``client``: the shared boto3 client (credentials, retries) and bucket checks;
``credentials``: where the credentials come from and when they expire;
``names``/``keys``: storage names to S3 keys inside the storage's location;
``uploads``: what an upload sends (headers, content type, gzip, source MD5);
``transfer``: uploads through s3transfer; ``multipart``: part-by-part uploads
of a file being written; ``index``: the listing behind ``preload_metadata``;
``listing``: fast ListObjectsV2 pages for the sync; ``urls``/``cloudfront``:
URLs; ``file``: the file object ``open()`` returns; ``errors``: botocore
errors explained; ``objects``: what every object records.
Neither Evennia nor Twisted is imported here.
"""
