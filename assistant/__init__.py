"""Cited answers about the 久留米広域連携中枢都市圏 連携協約."""
