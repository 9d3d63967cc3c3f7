"""``python -m tiktok_etl.cli``: the same command line as the ``tiktok-etl`` script."""

from tiktok_etl.cli import main

main()
