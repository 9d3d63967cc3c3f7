"""tiktok_etl: a Dagster-native connector for organic TikTok data (users, videos, comments)."""
