from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import User


class MeSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    clearance_label = serializers.CharField(source="get_clearance_display", read_only=True)
    preferred_language = serializers.ChoiceField(
        choices=[code for code, _name in settings.LANGUAGES], required=False, allow_blank=True
    )
    email = serializers.EmailField(required=False, allow_blank=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "display_name",
            "email",
            "preferred_language",
            "clearance",
            "clearance_label",
            "roles",
        ]
        read_only_fields = ["id", "username", "clearance", "clearance_label", "roles"]
        extra_kwargs = {"display_name": {"max_length": 100}}

    def get_roles(self, user: User) -> list[str]:
        return sorted(user.role_names)

    def validate_display_name(self, value: str) -> str:
        if value and not value.strip():
            raise serializers.ValidationError(_("The display name cannot be only spaces."))
        return value.strip()
