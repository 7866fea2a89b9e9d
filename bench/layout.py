"""Names of the benchmark data, shared by the population and the tasks.

Kept apart from ``bench.population`` (which imports the emulator, hence ``xnat_sdk``) so a task
process imports neither client before it measures the import.
"""

LISTING_PROJECT = "BENCHLIST"
TREE_PROJECT = "BENCHTREE"
FILES_PROJECT = "BENCHFILES"
#: the subject and sessions of ``BENCHFILES``: files to download in one, uploads into the other
FILES_SUBJECT, FILES_SESSION, UPLOAD_SESSION = "FS0001", "FS0001_MR1", "FS0001_UP"
BIG_RESOURCE = "BIG"
BIG_FILE = "big.bin"
SMALL_RESOURCE = "SMALL"
#: the (empty) resources of ``FS0001_UP`` the upload benchmarks write into
UPLOAD_BIG, UPLOAD_SMALL = "UPBIG", "UPSMALL"
MIB = 1024 * 1024
