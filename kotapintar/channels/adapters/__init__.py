"""SMS, WhatsApp and Telegram adapters: provider webhooks in, messages out."""
