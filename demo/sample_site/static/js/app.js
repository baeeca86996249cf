// contrib_awsstorage demo script: served from S3
document.addEventListener("DOMContentLoaded", function () {
  document.body.dataset.loadedFrom = "s3";
});
